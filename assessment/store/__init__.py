"""The database: engine, schema and migrations, and the respondents' data (units, assessments, answers)."""
