"""The Huawei dialects' state machines: Live record control (`live_record`) with its HTTP
callbacks (`callbacks`), SparkRTC individual stream jobs (`rtc_jobs`), and what both share:
streams addressed by a group's and a source's name (`streams`) and the "offline too long"
watch that ends their recordings (`idle_watch`). Used by `api.huawei` alone."""
