"""The test suite: unit, property, integration and scenario tests, plus the ICD helpers."""
