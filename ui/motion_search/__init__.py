"""Motion search in the GUI (#28 items 3 and 4): "search motion here" on a paused player frame
or a live tile, the hits as marks on the Recordings timeline and in a list beside it, their
export, and the motion heat map over a picture. The answers come from the station's
`motion_search` service (app.motion_search), asked on the window's task runner: this package
only draws, picks and hands over; the service decides what a hit is."""
