"""Events and alarms (#23 item 3): the one event model every part of the station raises its
events into and every front end reads them from.

- `kinds`: the registry of event kinds, their default severity and whether they last;
- `event_service`: `EventService`, the only writer and reader of the catalog's `event`
  table; it publishes `EventChanged` on the bus for every open, close and acknowledgement;
- `raiser`: turns what the bus says (recordings started, stopped, failed; the disk low;
  retention deleting) into events on a thread of its own, so no publisher ever waits for
  the catalog;
- `camera_watch`: a thread that reads the recorder's per-source counters from memory and
  opens `camera_lost` when packets stop, `camera_back` when they flow again.

A room below the recordings and the domain services (they raise events through it) and
above the site and the foundation.
"""
