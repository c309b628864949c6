"""A resolver middleware that checks the function's environment model before any route runs."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from prompt_rollback import wiring
from prompt_rollback.settings import EnvironmentModel


class EnvironmentCheck(BaseMiddlewareHandler[APIGatewayRestResolver]):
    """Validates `model` on the first request, not at import (tests and local mode set the
    variables after importing the handler); a ConfigurationError becomes the app's 503."""

    def __init__(self, model: type[EnvironmentModel]) -> None:
        super().__init__()
        self.model = model

    def handler(self, app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
        wiring.environment(self.model)
        return next_middleware(app)
