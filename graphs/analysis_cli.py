"""`devmesh analyze --service S --since 30m`: POST /analyze/window on the running server,
streamed (the ranked templates, then the extraction) or, with --json, the one JSON."""
from __future__ import annotations

import json

import click

from graphs.client import server_options


def _ranked(data: dict) -> list[str]:
    out = [f"{data['lines']} lines, {data['templates']} templates; ranked (score, template):"]
    for r in data["ranked"][:8]:
        tags = ", ".join(t for t, on in (("new", r["novel"]), ("habitual", r["habitual"]),
                                        (r["catastrophic"] or "", bool(r["catastrophic"]))) if on)
        out.append(f"  {r['score']:>7.2f}  [template:{r['template_id']}] {r['service']} {r['level']} x{r['count']}"
                   f"{f' ({tags})' if tags else ''}: {r['template'][:140]}")
    return out


def render(extraction: dict, llm: dict) -> list[str]:
    sig = extraction["error_signature"]
    signature = f"[template:{sig['template_id']}] {sig['text']}" if sig else "-"
    return [f"severity:   {extraction['severity']}", f"component:  {extraction['component'] or '-'}",
            f"signature:  {signature}", f"root cause: {extraction['root_cause']}",
            f"action:     {extraction['action']}", f"summary:    {extraction['summary']}",
            f"(llm: {llm.get('status')})"]


@click.command("analyze")
@click.option("--service", default=None, help="the service whose window to analyse")
@click.option("--host", default=None, help="or a host (both: that service on that host)")
@click.option("--since", default=None, help="window start: ISO 8601 or a duration ago (30m, 2h)")
@click.option("--duration", default=None, help="or the window's length back from --until (default now)")
@click.option("--until", default=None, help="window end (default now)")
@click.option("--baseline", default="24h", show_default=True, help="history before the window to judge it against")
@click.option("--json", "as_json", is_flag=True, help="print the one JSON answer")
@server_options()
def analyze_cmd(service, host, since, duration, until, baseline, as_json, url, token):
    """Analyse a window on the running server: ranked templates, then the structured extraction."""
    import httpx

    from graphs.client import explain, headers, sse_events, unreachable

    if not (since or duration):
        since = "30m"
    body = {k: v for k, v in {"service": service, "host": host, "since": since, "duration": duration,
                              "until": until, "baseline": baseline}.items() if v}
    endpoint = f"{url.rstrip('/')}/analyze/window"
    try:
        if as_json:
            response = httpx.post(endpoint, json=body, headers=headers(token), timeout=180)
            if response.status_code != 200:
                raise explain(url, response.status_code, response.content)
            click.echo(json.dumps(response.json()))
            return
        failed = None
        with httpx.stream("POST", endpoint, json={**body, "stream": True}, headers=headers(token),
                          timeout=180) as response:
            if response.status_code != 200:
                raise explain(url, response.status_code, response.read())
            for event, data in sse_events(response):
                if event == "analysis":
                    click.echo("\n".join(_ranked(data)))
                elif event == "extraction" and data.get("final"):
                    click.echo("\n" + "\n".join(render(data["extraction"], data["llm"])))
                elif event == "error":
                    failed = data
                    click.echo(click.style(f"[error] {data['message']}", fg="red"), err=True)
    except httpx.HTTPError as exc:
        raise unreachable(url, exc) from None
    if failed is not None:
        raise click.ClickException(f"the server could not analyse the window ({failed.get('code')}: "
                                   f"{failed.get('message')}); see the server log")
