"""Fetch several JSON documents concurrently from an in-process fake transport."""
import asyncio
import json
import logging
import sys

log = logging.getLogger("fetcher")


async def transport(url):
    await asyncio.sleep(0)
    return f"HTTP/1.1 200 OK\nContent-Type: application/json\n\n{{\"url\": \"{url}\", \"items\": [1, 2]}}"


def parse_payload(text):
    return json.loads(text)


async def fetch(url):
    raw = await transport(url)
    head, _, body = raw.partition("\n\n")
    log.info("fetched url=%s bytes=%d", url, len(raw))
    return parse_payload(head)


async def fetch_all(urls):
    return await asyncio.gather(*(fetch(u) for u in urls))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    print(asyncio.run(fetch_all(sys.argv[1:])))
