"""Automatic checks for the "your turn" exercises: one module per notebook (nb01, nb02, ...)."""
