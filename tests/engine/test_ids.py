"""Operation ids match the official Python SDK: blake2b hex[:64] of "<n>" or "<parent>-<n>"."""

from __future__ import annotations

import hashlib

import pytest

from durable_backend._engine import IdSequence, operation_id


def blake(text: str) -> str:
    return hashlib.blake2b(text.encode()).hexdigest()[:64]


def test_root_ids_hash_the_position() -> None:
    assert operation_id(None, 1) == blake("1")
    assert operation_id(None, 12) == blake("12")
    assert len(operation_id(None, 1)) == 64


def test_nested_ids_hash_parent_dash_position() -> None:
    parent = operation_id(None, 3)
    assert operation_id(parent, 2) == blake(f"{parent}-2")
    grandchild = operation_id(operation_id(parent, 2), 1)
    assert grandchild == blake(f"{blake(f'{parent}-2')}-1")


def test_known_value() -> None:
    # Pinned so an accidental change of algorithm (digest size, encoding) is caught even
    # without the official package installed.
    assert operation_id(None, 1) == (
        "1ced8f5be2db23a6513eba4d819c73806424748a7bc6fa0d792cc1c7d1775a97"
    )


def test_sequence_counts_from_one_per_context() -> None:
    root = IdSequence(None)
    first, second = root.next(), root.next()
    assert (first, second) == (blake("1"), blake("2"))
    child = IdSequence(first)
    assert child.parent_id == first
    assert child.next() == blake(f"{first}-1")


def test_ids_equal_the_official_sdk() -> None:
    identifier = pytest.importorskip("aws_durable_execution_sdk_python.identifier")
    namespace = identifier.OperationIdNamespace
    root = namespace()
    for n in (1, 2, 10, 999):
        assert operation_id(None, n) == root.create_id_for_step(n)
    parent = operation_id(None, 4)
    for n in (1, 7):
        assert operation_id(parent, n) == namespace(parent).create_id_for_step(n)
