"""Shared infrastructure below everything else: errors a user can cause and the one-line
command wrapper (:mod:`~model.support.errors`), input validation
(:mod:`~model.support.validate`), atomic output files (:mod:`~model.support.files`) and
the limits checked before work starts (:mod:`~model.support.limits`).

Both :mod:`model` and :mod:`accel` import these; they import nothing of either.
"""
