"""Alarms in the window (#23 item 4): the Events panel (`events_panel`) and what follows the
event model for the rest of the window (`alarm_desk`: lost cameras' tiles, the status bar's
count of unacknowledged alarms, the tray's notifications and sound). Both read and act
through the station's `EventService` on the task runner; changes reach them through the
bridge's `event_changed`, whichever front end made them."""
