"""People, not one shared token (#26): user accounts kept in the catalog, so every station of
a site shares them. This is the foundation only (item 1): accounts, their passwords, the
command line and the first-start `admin`. Roles and scopes are stored but not yet enforced:
every request is still authenticated exactly as before (the station `token`)."""
