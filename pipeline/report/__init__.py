"""Reports built from the stage records: ``report.json`` (``json_report``)."""
