"""Development tools, outside the runtime package: the local launcher, the settings reference and the
AsyncAPI writer. No service imports them."""
