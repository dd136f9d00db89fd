"""Does watching slow the detector? The monitor's frames/s with 0 and with 20 browser-like
viewers of its live page, and the server's memory, on loopback.

    python scripts/bench_monitor_viewers.py                     # 20 viewers, 30 s phases
    python scripts/bench_monitor_viewers.py --viewers 20 --stalled 2 --seconds 30
    python scripts/bench_monitor_viewers.py --scale default     # the CPU-scale model

The detector is the monitor's own loop (``iodvideo.monitor.Monitor``, clip mode) over an
endless stream of 240x320 synthetic IR-like frames, unpaced (as fast as it goes), with a
checkpoint this script builds with random weights (speed does not depend on them): ``smoke``
= experiment=smoke's TSM (64 px, K=4), ``default`` = conf/train.yaml's (96 px, K=8). The
page is served exactly as ``serve.enabled=true`` serves it (hub, Starlette app, uvicorn in
a thread). Viewers run in a child process (so their own work does not share this process's
interpreter): each reads ``/stream.mjpg`` like an ``<img>`` does; ``--stalled`` more connect
and never read.

Three phases of ``--seconds`` each, after a warm-up: no viewer, all viewers, no viewer again;
the baseline is the mean of the two viewer-free phases (the machine's load drifts). Goal: the
detector's frames/s with viewers within 10 % of the baseline. RSS of this process (detector
+ server) at the start of the first phase and after the last.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SCALES = {"smoke": ["experiment=smoke"], "default": []}


def build_checkpoint(path: Path, scale: str) -> Path:
    """A training-format checkpoint of a random-init TSM detector (``load_detector`` reads
    the config inside it)."""
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from iodvideo.checkpointing import CONFIG_KEY
    from iodvideo.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*SCALES[scale], "backbone=tsm", "data.root=unused"])
    config = {k: OmegaConf.to_container(cfg[k], resolve=True)
              for k in ("model", "data", "evaluation", "loss", "backbone")}
    torch.manual_seed(0)
    detector = instantiate(OmegaConf.create(config["model"]))
    torch.save({"state_dict": {f"detector.{k}": v for k, v in detector.state_dict().items()},
                CONFIG_KEY: config}, path)
    return path


def cpu_seconds(pid: int | str = "self", tid: int | None = None) -> float:
    """User + system CPU time of a process (or one of its threads), from /proc."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    with open(path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- the viewers' process ---------------------------------------------------------------------
async def _viewer(port: int, path: str, seconds: float, read: bool) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    parts, tail = 0, b""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not read:
                await asyncio.sleep(left)
                break
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 16), left)
            except asyncio.TimeoutError:
                break
            if not chunk:
                break
            data = tail + chunk
            parts += data.count(b"--frame\r\n")
            tail = data[-9:]
    finally:
        writer.close()
    return parts


async def _viewers(port: int, count: int, stalled: int, seconds: float) -> list[int]:
    tasks = [_viewer(port, "/stream.mjpg", seconds, True) for _ in range(count)]
    tasks += [_viewer(port, "/stream.mjpg", seconds, False) for _ in range(stalled)]
    return list(await asyncio.gather(*tasks))


def viewer_main(port: int, count: int, stalled: int, seconds: float) -> None:
    frames = asyncio.run(_viewers(port, count, stalled, seconds))
    print(json.dumps({"frames": frames[:count], "stalled": frames[count:]}), flush=True)


# -- the detector's process -------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=20)
    parser.add_argument("--stalled", type=int, default=0, help="extra viewers that never read")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    parser.add_argument("--ckpt", type=Path, help="use this checkpoint instead of building one")
    parser.add_argument("--stream-fps", type=float, default=15.0, help="serve.stream_fps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--viewer-client", nargs=4, metavar=("PORT", "N", "STALLED", "SECONDS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer_client:
        port, count, stalled, seconds = args.viewer_client
        viewer_main(int(port), int(count), int(stalled), float(seconds))
        return
    import torch  # not before: the viewers' process needs none of this

    if args.threads:
        torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_predict import synthetic_frames

    from iodvideo.hardware import bench_header
    from iodvideo.inference.serve import AppSettings, Hub, HubPublisher, ServerThread, create_app
    from iodvideo.inference.stream.alarm import AlarmConfig
    from iodvideo.inference.stream.engines import ClipEngine
    from iodvideo.inference.stream.runner import ClipRunner
    from iodvideo.monitor import Monitor, current_tracks

    print(bench_header("fp32 inference, NCHW (ClipRunner)"), flush=True)
    load = os.getloadavg()
    print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPU(s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.ckpt or build_checkpoint(Path(tmp) / "bench.ckpt", args.scale)
        runner = ClipRunner.from_checkpoint(ckpt, "cpu", top_n=10)
    hub = Hub({"model": {"backbone": runner.backbone, "clip_len": runner.clip_len}})
    app = create_app(hub, AppSettings(stream_fps=args.stream_fps))
    publisher = HubPublisher(hub)
    monitor = Monitor(ClipEngine(runner), 25.0, AlarmConfig(), 5, publisher.event)
    monitor.sinks.append(lambda view: publisher.frame(view, current_tracks(monitor.alarm),
                                                      monitor.frames_in - view.frame))
    frames = synthetic_frames(64, 240, 320)
    stop = threading.Event()

    def endless():
        for frame in itertools.cycle(frames):
            if stop.is_set():
                return
            yield frame

    detector = threading.Thread(target=monitor.run, args=(endless(),), daemon=True)
    with ServerThread(app, "127.0.0.1", 0) as server:
        detector.start()
        time.sleep(args.warmup)

        serving = server._thread.native_id

        def phase(name: str, viewers: int | None = None) -> float:
            before, began = monitor.frames_out, time.perf_counter()
            cpu = (cpu_seconds(), cpu_seconds(tid=serving),
                   cpu_seconds(viewers) if viewers else 0.0)
            time.sleep(args.seconds)
            seconds = time.perf_counter() - began
            fps = (monitor.frames_out - before) / seconds
            used = [100 * (now - then) / seconds for now, then in zip(
                (cpu_seconds(), cpu_seconds(tid=serving),
                 cpu_seconds(viewers) if viewers else 0.0), cpu, strict=True)]
            print(f"{name}: detector {fps:.2f} frames/s, {app.state.live.viewers} viewer "
                  f"stream(s) open; CPU % of one core: this process {used[0]:.0f} (server "
                  f"thread {used[1]:.0f}), viewers' process {used[2]:.0f}", flush=True)
            return fps

        rss_start = rss_mib()
        alone_before = phase("no viewer")
        client = subprocess.Popen(
            [sys.executable, __file__, "--viewer-client", str(server.port), str(args.viewers),
             str(args.stalled), str(args.seconds + 10)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while app.state.live.viewers < args.viewers + args.stalled and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        watched = phase(f"{args.viewers} viewers + {args.stalled} stalled", client.pid)
        out, _ = client.communicate(timeout=args.seconds + 60)
        received = json.loads(out)
        alone_after = phase("no viewer again")
        rss_end = rss_mib()
        stop.set()
        detector.join(30)
    baseline = (alone_before + alone_after) / 2
    change = 100 * (watched - baseline) / baseline
    per_viewer = received["frames"]
    row = {
        "model": f"tsm {args.scale}" if args.ckpt is None else str(args.ckpt),
        "clip_len": runner.clip_len, "input_size": runner.input_size,
        "fps_no_viewer": round(baseline, 2),
        "fps_no_viewer_before_after": [round(alone_before, 2), round(alone_after, 2)],
        f"fps_{args.viewers}_viewers": round(watched, 2), "change_percent": round(change, 1),
        "within_10_percent": abs(change) <= 10,
        "frames_per_viewer_per_s": round(sum(per_viewer) / max(1, len(per_viewer))
                                         / (args.seconds + 10), 2),
        "stalled_viewer_frames": received["stalled"],
        "rss_mib_start": round(rss_start, 1), "rss_mib_end": round(rss_end, 1),
        "phase_seconds": args.seconds, "stream_fps_cap": args.stream_fps,
    }
    print(json.dumps(row), flush=True)
    header = ("fps_no_viewer", f"fps_{args.viewers}_viewers", "change_percent",
              "frames_per_viewer_per_s", "rss_mib_start", "rss_mib_end")
    print("| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    print("| " + " | ".join(str(row[h]) for h in header) + " |")


if __name__ == "__main__":
    main()
