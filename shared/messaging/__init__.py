"""The bus: RabbitMQ through aio-pika, typed dispatch, inbox and outbox, the declared topology.

See shared/README.md for what each package of ``shared`` holds and may import."""
