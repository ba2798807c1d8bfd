"""The Scrapy project of citecache: spider, pipelines, middlewares and extraction."""

__version__ = "0.1.0"
