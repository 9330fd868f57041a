"""The operator's dashboard: consent and visit statistics from the privacy log's store, as HTML
with server-drawn SVG charts and as JSON. Sits on top of enforce, banner and log."""
