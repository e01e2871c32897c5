//! The dependency graph as nodes and edges, for `werf graph`.
