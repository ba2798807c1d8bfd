"""The Scrapy project of citecache: spider, middlewares, pipelines and the crawl commands."""
