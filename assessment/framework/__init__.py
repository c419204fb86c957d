"""The framework and the files people edit: the Code matrix, response files, YAML with line numbers."""
