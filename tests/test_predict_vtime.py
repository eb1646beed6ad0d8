"""The dry run's virtual clock: work handed to threads is heard in a repeatable order."""

from __future__ import annotations

import asyncio
import threading

from isru.predict.vtime import AutojumpLoop


def test_autojump_loop_threads_done_in_any_order_are_heard_in_the_order_handed_over() -> None:
    """Links open in threads: whichever thread the machine finishes first, the loop hears
    of them in the order they were opened, so a dry run repeats exactly."""
    first_may_end = threading.Event()

    def slow() -> str:  # the first link: its thread ends after the second one's
        assert first_may_end.wait(timeout=10.0)
        return "first"

    def fast() -> str:
        first_may_end.set()
        return "second"

    async def main() -> tuple[list[str], float]:
        loop = asyncio.get_running_loop()
        heard: list[str] = []

        async def open_link(job: asyncio.Future[str]) -> None:
            heard.append(await job)

        start = loop.time()
        await asyncio.gather(
            open_link(loop.run_in_executor(None, slow)),
            open_link(loop.run_in_executor(None, fast)),
        )
        return heard, loop.time() - start

    with asyncio.Runner(loop_factory=AutojumpLoop) as runner:
        heard, took = runner.run(main())
    assert heard == ["first", "second"] and took == 0.0


def test_autojump_loop_thread_error_reaches_its_caller() -> None:
    def broken() -> None:
        raise OSError("port gone")

    async def main() -> str:
        try:
            await asyncio.get_running_loop().run_in_executor(None, broken)
        except OSError as exc:
            return str(exc)
        return "no error"

    with asyncio.Runner(loop_factory=AutojumpLoop) as runner:
        assert runner.run(main()) == "port gone"
