"""The command line: ``assessment validate|score|demo|import|export|report|compare``."""
