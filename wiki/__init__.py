"""The wiki's pages: parse their frontmatter and citations, and record who cites what."""
