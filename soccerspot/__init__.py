"""soccerspot: find the actions in soccer broadcasts.

One import package, four subpackages in the data flow's order: `soccerspot.extract` (video -> features),
`soccerspot.data` (what the data is), `soccerspot.models` (nn.Modules), `soccerspot.pipeline` (orchestration
and the `soccerspot` command). Their folders sit at the top of the repository (`extract/`, `data/`,
`models/`, `pipeline/`) and are mapped into this package by `setup.cfg`'s `package_dir`.
"""
from soccerspot.files import soccerspot_version

__version__ = soccerspot_version()
