# The suite runs against the *installed* netkit (wheel or `pip install .`), whose pytest
# plugin is auto-loaded; pytester checks the plugin in isolated runs.
pytest_plugins = ["pytester"]
