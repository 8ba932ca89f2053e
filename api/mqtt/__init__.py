"""The MQTT bus, a remote-control surface beside the HTTP dialects (`api.native`,
`api.device_connect`, `api.huawei`): the station's state and events published to a broker,
commands taken from it (`commands`, answered in the native API's shapes through the one
translator of `api.errors`), and Home Assistant's discovery (`topics`). The bridge itself
(`bridge.MqttBridge`) is built and started by the composition root (`app.main`), which hands
it to `app.station.start_station`; nothing in the core imports it."""
