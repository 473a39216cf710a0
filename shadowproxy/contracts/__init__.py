"""What the client sees: consumer contracts and the wire shape learned from legacy. Pure.

A consumer contract (`model.Contract`) names, per route and websocket message, the JSON paths a
dashboard reads, each required or optional, with the types it assumes and the values it
understands; `check.Plan` (prepared once per surface) tests answers against it. `builtin` holds
the two dashboard generations, `load` reads more from the config file. `drift.ShapeLearner`
learns which paths legacy's answers always carry and finds the app answers that lack them.
`inspect.Inspector` runs both on the two answers of one comparison and says what each side
would break.
"""
