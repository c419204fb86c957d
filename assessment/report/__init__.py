"""The council report of one unit and year, as PDF or HTML."""
