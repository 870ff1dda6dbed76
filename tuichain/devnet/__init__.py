"""`tuichain devnet`: several connected local nodes; command, state, processes, tmux."""
