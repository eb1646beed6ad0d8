"""The flight configuration: :func:`load_config` layers defaults, the TOML file, ``ISRU_...``
environment variables and overrides (pydantic-settings) into a checked :class:`FlightConfig`."""

from flight.config.loading import ENV_PREFIX, ConfigError, load_config
from flight.config.model import (
    DEFAULT_STATE_DIR,
    OUTBOX_FILE_NAME,
    CommandingConfig,
    DeviceConfig,
    DevicesConfig,
    FlightConfig,
    LimitOverride,
    MqttConfig,
    OutboxConfig,
    StateConfig,
    TelemetryConfig,
    effective_limits,
)
from flight.config.samples import CameraConfig, SamplesConfig, SiteConfig

__all__ = [
    "DEFAULT_STATE_DIR",
    "ENV_PREFIX",
    "OUTBOX_FILE_NAME",
    "CameraConfig",
    "CommandingConfig",
    "ConfigError",
    "DeviceConfig",
    "DevicesConfig",
    "FlightConfig",
    "LimitOverride",
    "MqttConfig",
    "OutboxConfig",
    "SamplesConfig",
    "SiteConfig",
    "StateConfig",
    "TelemetryConfig",
    "effective_limits",
    "load_config",
]
