"""Named wall layouts (#27 item 1): the shapes' geometry and the picture fitting as pure
functions (`shapes`, `fitting`), and the layouts stored in the catalog (`service`), shared by
the stations of a site. The GUI draws from the same functions the API describes."""
