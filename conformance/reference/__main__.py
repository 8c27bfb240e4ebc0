"""Standalone reference server.

    python -m conformance.reference --host 127.0.0.1 --port 8080 --window 600 [--fault NAME | --variant NAME]
                                    [--timings fast] [--ring-after S --answer-after S --call-length S]
                                    [--quota 600/5m [--no-quota-headers]]

Prints one JSON line when it serves (base_url, accounts with their tokens and applications, window, fault,
variant; with a quota also the quota and whether its headers are sent), then serves until Ctrl-C or SIGTERM.
`--list` prints the faults and variants and exits. `calls-conformance reference` is the same command.
"""

from __future__ import annotations

import argparse
import difflib
import json
import signal
import sys
import threading
from collections.abc import Sequence

from conformance.contract.quota import Quota, parse_quota
from conformance.reference.faults import FAULTS, VARIANTS
from conformance.reference.server import ReferenceStartError, start_reference
from conformance.reference.settings import TIMING_PRESETS, ReferenceSettings, Timings


PROG = "python -m conformance.reference"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    # No abbreviations: `--fau x` must not be taken as `--fault x`.
    parser = argparse.ArgumentParser(prog=prog, description="Reference implementation of the Calls API.",
                                     allow_abbrev=False)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default 8080)")
    parser.add_argument("--window", type=float, default=600.0,
                        help="seconds an ended call stays visible (default 600)")
    which = parser.add_mutually_exclusive_group()
    # Names checked after parsing (unknown_name): argparse would print all of them on one line.
    which.add_argument("--fault", metavar="NAME", help="break one requirement (see --list)")
    which.add_argument("--variant", metavar="NAME", help="a conformant variant (see --list)")
    parser.add_argument("--timings", choices=sorted(TIMING_PRESETS), default="standard",
                        help="lifecycle preset: standard (1 s / 3 s / 10 s) or fast (a call lasts 1 s)")
    parser.add_argument("--ring-after", type=float, metavar="S", help="seconds from create to ringing")
    parser.add_argument("--answer-after", type=float, metavar="S", help="seconds from create to answer")
    parser.add_argument("--call-length", type=float, metavar="S", help="seconds from create to the end of the call")
    parser.add_argument("--seeded-calls", type=int, default=3, metavar="N",
                        help="inbound calls each account has from the start (default 3)")
    parser.add_argument("--max-body", type=int, default=64 * 1024, metavar="BYTES",
                        help="largest create body accepted (default 65536)")
    parser.add_argument("--quota", type=_quota, metavar="N/PERIOD",
                        help="refuse requests over a quota shared by all clients with 429, e.g. 600/5m as "
                             "jambonz does (default: no quota)")
    parser.add_argument("--quota-headers", action=argparse.BooleanOptionalAction, default=True,
                        help="announce the quota in RateLimit-* headers (default); --no-quota-headers enforces "
                             "it unannounced, with Retry-After on a 429 only")
    parser.add_argument("--list", action="store_true", help="print the faults and variants, then exit")
    return parser


def _quota(text: str) -> Quota:
    try:
        return parse_quota(text)
    except ValueError as error:  # argparse shows this message as it is
        raise argparse.ArgumentTypeError(str(error)) from None


def settings_from(args: argparse.Namespace) -> ReferenceSettings:
    preset = TIMING_PRESETS[args.timings]
    timings = Timings(
        ring_after=preset.ring_after if args.ring_after is None else args.ring_after,
        answer_after=preset.answer_after if args.answer_after is None else args.answer_after,
        call_length=preset.call_length if args.call_length is None else args.call_length,
    )
    return ReferenceSettings(host=args.host, port=args.port, window=args.window, timings=timings,
                             seeded_calls=args.seeded_calls, max_body=args.max_body,
                             fault=args.fault, variant=args.variant, quota=args.quota,
                             quota_headers=args.quota_headers)


def _print_list() -> None:
    print("faults (each breaks one requirement):")
    for fault in FAULTS.values():
        print(f"  {fault.name:32} {fault.requirement:32} {fault.description}")
    print("variants (conformant):")
    for item in VARIANTS.values():
        print(f"  {item.name:32} {item.description}")


def unknown_name(kind: str, name: str, known: Sequence[str], prog: str) -> str:
    """`unknown fault 'nope': the faults are listed by calls-conformance reference --list`, with the closest
    name if there is one."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{prog}: unknown {kind} {name!r}{hint}: the {kind}s are listed by {prog} --list"


def main(argv: Sequence[str] | None = None, *, stop_event: threading.Event | None = None, prog: str = PROG) -> int:
    """Run the standalone server; returns the exit status. `stop_event` (for embedding) stops it when set.
    `prog` is the command's name in its help and messages."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.list:
        _print_list()
        return 0
    for kind, name, known in (("fault", args.fault, FAULTS), ("variant", args.variant, VARIANTS)):
        if name is not None and name not in known:
            parser.exit(2, unknown_name(kind, name, sorted(known), prog) + "\n")  # 2, as argparse's own errors
    try:
        settings = settings_from(args)
    except ValueError as error:
        parser.error(str(error))
    try:
        running = start_reference(settings)
    except ReferenceStartError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop = stop_event or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        started = {
            "base_url": running.base_url,
            "accounts": [{"sid": a.sid, "token": a.token, "application_sid": a.application_sid}
                         for a in running.accounts],
            "window": settings.window,
            "fault": settings.fault,
            "variant": settings.variant,
        }
        if settings.quota is not None:  # without one, the line stays as it always was
            started.update(quota=str(settings.quota), quota_headers=settings.quota_headers)
        print(json.dumps(started), flush=True)
        while not stop.wait(0.5) and running.running:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
