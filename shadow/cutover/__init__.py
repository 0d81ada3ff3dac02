"""Cutover control: phase plan, gate as code, divergence review and reports.

Generic over applications: services are known by name (the phase plan) and by
their declared method names (passed in by the caller from the contracts); this
package never imports an application's services.
"""
