"""The Huawei dialects: Live record control and SparkRTC individual stream jobs."""
