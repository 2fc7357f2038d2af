"""An asyncio job queue: producers enqueue jobs, a worker dispatches them by kind."""
import asyncio
import logging
import sys
from dataclasses import dataclass

log = logging.getLogger("jobs")


@dataclass
class Job:
    id: int
    kind: str
    payload: dict


def resize_image(job):
    return f"resized {job.payload['file']}"


def send_mail(job):
    return f"mailed {job.payload['to']}"


HANDLERS = {"resize_image": resize_image, "send_mail": send_mail}


def make_jobs(files):
    jobs = [Job(i, "resize", {"file": f}) for i, f in enumerate(files)]
    jobs.append(Job(len(jobs), "send_mail", {"to": "ops"}))
    return jobs


def process(job):
    log.info("processing job_id=%d kind=%s", job.id, job.kind)
    return HANDLERS[job.kind](job)


async def worker(queue):
    while not queue.empty():
        job = await queue.get()
        process(job)


async def main(files):
    queue = asyncio.Queue()
    for job in make_jobs(files):
        queue.put_nowait(job)
    await worker(queue)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    asyncio.run(main(sys.argv[1:]))
