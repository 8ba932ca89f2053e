"""`GET /metrics`: the station in Prometheus' text format (issue #15 item 6), behind the
API's token like every native route.

Each station's application owns a `CollectorRegistry` (never prometheus_client's global one,
so several stations in one process keep apart): the API's request counters
(`api.request_metrics`) and a `StationCollector` that reads the station on every scrape.
A scrape is cheap and runs off the event loop (`api.routing.call`): the readers' counters
from memory, one catalog query for the sources' names, one `statvfs` per filesystem, the
retention and MQTT figures from memory.
"""

from __future__ import annotations

from typing import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from api.keys import STATION
from api.native.params import add_route
from api.native.routedoc import Binary
from api.request_metrics import install
from api.routing import call
from app.station import Station

METRICS_PATH = "/metrics"
PREFIX = "recording_station"
SOURCE_LABELS = ("source_id", "source")
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


class StationCollector(Collector):
    """What the station is doing now, read at each scrape (no state of its own)."""

    def __init__(self, station: Station):
        self.station = station

    def collect(self) -> Iterator[Metric]:
        station = self.station
        yield InfoMetricFamily(PREFIX, "The station: its version, id and name", value={
            "version": station.version, "station_id": station.station_id,
            "name": station.name})
        yield from self._sources()
        yield from self._disks()
        deletions = CounterMetricFamily(
            f"{PREFIX}_retention_deletions", "Record files retention deleted since the "
            "station started, by why: age (retention_days), size (retention_max_gb), floor "
            "(disk_floor_mb)", labels=("reason",))
        for reason, count in station.storage.deleted_by_reason.items():
            deletions.add_metric((reason,), count)
        yield deletions
        yield from self._events()
        if station.mqtt is not None:  # absent without mqtt_url: there is no bus to be on
            yield GaugeMetricFamily(f"{PREFIX}_mqtt_connected", "1 while the MQTT bridge is "
                                    "connected to its broker", value=int(station.mqtt.connected))

    def _sources(self) -> Iterator[Metric]:
        def gauge(name: str, text: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_source_{name}", text, labels=SOURCE_LABELS)

        def counter(name: str, text: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"{PREFIX}_source_{name}", text, labels=SOURCE_LABELS)

        online = gauge("online", "1 while the source delivers packets")
        fps = gauge("fps", "Video frames per second read, measured over about 2 s")
        bitrate = gauge("bitrate_bits_per_second", "Bits per second read (video and audio), "
                        "measured over about 2 s")
        recording = gauge("recording", "1 while a file of the source is open")
        paused = gauge("recording_paused", "1 while a file of the source is paused")
        read = counter("read_bytes", "Bytes of packets read from the source")
        reconnects = counter("reconnects", "Times the source came back online after "
                             "losing it")
        packets = counter("written_packets", "Packets written into the source's files")
        written = counter("written_bytes", "Bytes of packets written into the source's "
                          "files (a file holds a few per cent more: the MP4 structure)")
        motion = (
            gauge("motion_analysed_fps", "Pictures the motion detector really analysed per "
                  "second over the last 10 s (0 while it is off)"),
            gauge("motion_level", "Share of the picture (0..1) that changed in the last "
                  "picture analysed"),
            gauge("motion_cost_seconds", "Mean motion analysis time per picture"),
            gauge("motion_active", "1 while a motion event of the source is open"),
            gauge("motion_night", "1 while the picture is monochrome (the night settings)"))
        analysing = GaugeMetricFamily(
            f"{PREFIX}_source_motion_analysing", "1 for what the motion detector analyses: "
            "`preview` (the preview stream), `keyframes` (the main stream's keyframes only: "
            "no preview stream) or `off`", labels=(*SOURCE_LABELS, "input"))
        for s in self.station.sources.stats():
            labels = (str(s.id), s.name)
            online.add_metric(labels, int(s.status == "online"))
            fps.add_metric(labels, round(s.fps, 2))
            bitrate.add_metric(labels, round(s.bitrate_bps))
            recording.add_metric(labels, int(s.recording))
            paused.add_metric(labels, int(s.paused))
            read.add_metric(labels, s.bytes_read)
            reconnects.add_metric(labels, s.reconnects)
            packets.add_metric(labels, s.packets_written)
            written.add_metric(labels, s.bytes_written)
            m = self.station.motion.status(s.id)
            for family, value in zip(motion, (round(m.rate_fps, 2), round(m.level, 4),
                                              round(m.cost_ms / 1000, 6), int(m.active),
                                              int(m.night))):
                family.add_metric(labels, value)
            analysing.add_metric((*labels, m.analysing), 1)
        yield from (online, fps, bitrate, recording, paused, read, reconnects, packets, written)
        yield from (*motion, analysing)

    def _events(self) -> Iterator[Metric]:
        events = self.station.events
        raised = CounterMetricFamily(f"{PREFIX}_events", "Events this station raised since it "
                                     "started, by kind (app.alarms)", labels=("kind",))
        for kind, count in sorted(events.raised_counts().items()):
            raised.add_metric((kind,), count)
        yield raised
        yield GaugeMetricFamily(f"{PREFIX}_open_alarms", "This station's open events of "
                                "severity alarm (a camera lost …)", value=events.open_alarms())

    def _disks(self) -> Iterator[Metric]:
        storage = self.station.storage
        recordings, catalog = storage.look()  # the statvfs storage.status() reports
        total = GaugeMetricFamily(f"{PREFIX}_disk_total_bytes", "Size of the filesystem "
                                  "holding the recordings, and of the SQLite catalog's",
                                  labels=("filesystem", "path"))
        free = GaugeMetricFamily(f"{PREFIX}_disk_free_bytes", "Bytes free to the station on "
                                 "that filesystem", labels=("filesystem", "path"))
        for name, disk in (("recordings", recordings), ("catalog", catalog)):
            if disk is not None:  # no catalog filesystem with a database server
                total.add_metric((name, str(disk.path)), disk.total)
                free.add_metric((name, str(disk.path)), disk.free)
        yield total
        yield free
        yield GaugeMetricFamily(f"{PREFIX}_disk_floor_bytes", "disk_floor_mb: below it no "
                                "recording starts and retention, then the guard, make room",
                                value=storage.floor_bytes)


async def get_metrics(request: web.Request) -> web.Response:
    body = await call(generate_latest, request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    registry = app[REGISTRY] = CollectorRegistry()
    install(app, registry)
    registry.register(StationCollector(app[STATION]))
    add_route(app, "GET", METRICS_PATH, get_metrics, role="admin", tag="metrics",
              summary="The station in Prometheus' text format",
              binary=Binary("text/plain", "Prometheus' text exposition format"),
              description="Per source (labels `source_id`, `source`): online, fps, bitrate, "
              "bytes read, reconnects, packets and bytes written, recording and paused, and "
              "its motion detector's input, analysed fps, last level, cost per picture, "
              "motion and night; disk "
              "total and free bytes of the recordings' and the catalog's filesystems, the "
              "disk floor; retention deletions by reason; events raised by kind and open "
              "alarms; API requests by dialect, method "
              "and status class and their latency by dialect; the MQTT connection (only "
              "with `mqtt_url`); the station's version and id. Needs the station token when "
              "one is set, like every native route. Made for a Prometheus scrape every 15 s "
              "or so: one catalog query per scrape.")
