"""Durable AWS Lambda functions for plain sync ``def`` and native ``async def`` handlers."""
