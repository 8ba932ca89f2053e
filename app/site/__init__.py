"""The site: several stations on one shared catalog, and everything that reaches another one.

- `stations.StationRegistry`: who is there, who owns which source, who is online;
- `client.SiteClient`: the one way to ask another station to do what only it can (its routes,
  its signed headers from `peer_auth`, its refusals as domain errors), and to check what
  other stations ask of this one;
- `forwarding`: the part of a start or a stop other stations do; `remote_feed`: another
  station's live pictures for this station's viewers;
- `sync`, `sync_targets`, `uploads` and `final_copies`: copying finished records to a folder
  or to another station, and the receiving end of such a copy.

A room of its own because it is the one place that knows other stations exist; the recordings
and the domain services ask it, it asks neither of them.
"""
