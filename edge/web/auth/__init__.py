"""Who may use the console and the API: users, passwords, sessions, the CLI's local token."""
