"""The pre-roll: the packets of a source buffered before anyone pressed Start, so a
recording begins at a keyframe from before the request (at least `seconds` back), bounded in
memory (`max_bytes`: the oldest keyframe group goes first).

Owned by a source's reader thread and guarded by its lock; it only ever holds whole keyframe
groups, so whatever a recording takes from it starts on a keyframe.

It may be asked to keep more than `seconds` (`keep_at_least`: a source whose motion records
start `motion_pre_s` before the motion); a recording then still begins where `seconds` says
unless its start asks for more (`start_index`), so a longer buffer changes no other start.
"""

from __future__ import annotations

import av


class Preroll:
    def __init__(self, seconds: float = 0.0, max_bytes: int = 16 << 20):
        self.seconds, self.max_bytes = seconds, max_bytes
        self.at_least = 0.0  # seconds kept beyond `seconds` for starts that ask for more
        self.packets: list[tuple[av.Packet, float]] = []  # (packet, arrival wall time)
        self.size = 0  # bytes held

    def set_limits(self, seconds: float, max_bytes: int) -> None:
        """New limits; the buffer grows or shrinks to them from the next keyframe on."""
        self.seconds, self.max_bytes = seconds, max_bytes

    def keep_at_least(self, seconds: float) -> None:
        """Keep groups reaching at least this far back too (0: only `seconds`), from the next
        keyframe on, within `max_bytes`."""
        self.at_least = max(0.0, seconds)

    def start_index(self, seconds: float | None = None) -> int:
        """Where a recording started now begins: the newest buffered keyframe at least
        `seconds` (default: the setting) before the newest keyframe's arrival, else the
        oldest. With nothing kept beyond `seconds` this is the whole buffer, as it always was."""
        if not self.packets:
            return 0
        seconds = self.seconds if seconds is None else seconds
        newest = self._newest_keyframe()
        if seconds <= 0:
            return newest
        limit, start = self.packets[newest][1] - seconds, 0
        for index, (packet, wall) in enumerate(self.packets[:newest + 1]):
            if wall > limit:
                break
            if packet.is_keyframe:
                start = index
        return start

    def begin_at(self, seconds: float | None = None) -> float | None:
        """When the first packet of a recording started now (`start_index`) arrived."""
        return self.packets[self.start_index(seconds)][1] if self.packets else None

    def clear(self) -> None:
        self.packets, self.size = [], 0

    def newest_group(self) -> list[tuple[av.Packet, float]]:
        """The packets from the newest keyframe on (what a live forward starts with)."""
        return self.packets[self._newest_keyframe():]

    def newest_keyframe(self) -> av.Packet | None:
        return self.packets[self._newest_keyframe()][0] if self.packets else None

    def remember(self, packet: av.Packet, wall: float) -> None:
        """Keep a video packet: whole keyframe groups reaching at least `seconds` back (only
        the current group at 0), bounded by bytes (the oldest group goes first)."""
        if packet.is_keyframe:
            self._drop_groups(self._cut(wall))
        elif not self.packets:
            return
        while self.packets and self.size + packet.size > self.max_bytes:
            self._drop_groups(self._next_keyframe(1))
        if not self.packets and not packet.is_keyframe:
            return  # the current group no longer fits: wait for the next keyframe
        self.packets.append((packet, wall))
        self.size += packet.size

    def _cut(self, now: float) -> int:
        """How many buffered packets a keyframe arriving `now` makes unnecessary: those before
        the newest keyframe that is at least `seconds` old."""
        keep = max(self.seconds, self.at_least)
        if keep <= 0:
            return len(self.packets)
        limit, cut = now - keep, 0
        for index, (packet, wall) in enumerate(self.packets):
            if wall > limit:
                break
            if packet.is_keyframe:
                cut = index
        return cut

    def _next_keyframe(self, start: int) -> int:
        return next((i for i in range(start, len(self.packets)) if self.packets[i][0].is_keyframe),
                    len(self.packets))

    def _newest_keyframe(self) -> int:
        return next((i for i in range(len(self.packets) - 1, -1, -1)
                     if self.packets[i][0].is_keyframe), 0)

    def _drop_groups(self, count: int) -> None:
        if count:
            self.size -= sum(packet.size for packet, _ in self.packets[:count])
            del self.packets[:count]
