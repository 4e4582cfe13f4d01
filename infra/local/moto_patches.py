"""Make moto's DynamoDB cost what DynamoDB costs: proportional to what a call touches.

Two places in moto cost time proportional to the whole table, which slows the local stack
to a crawl once it holds thousands of tasks:
- a transaction backs up every table it touches with a deep copy before writing. The
  replacement keeps moto's semantics (conditions checked item by item in order,
  all-or-nothing, the same cancellation reasons) but backs up only the items it touches
  and restores just those when it is cancelled;
- a Query walks and sorts every item of the table (for an index too). key_index.py keeps
  sorted keys per partition instead.
And one place costs time per call that DynamoDB does not: every UpdateItem (alone or in a
transaction) parses its update expression twice (~0.4 ms each) and deep-copies the parsed
tree (~0.4 ms) before validating it against the item. A counter-heavy transaction, such as
a task's completion, spent most of its time there. Parsed trees are kept per expression
(moto copies a tree before it changes it, so a kept tree is never modified), the copy
goes through pickle, about three times faster than deepcopy for these trees, and each
validation pass reads which node types it handles once per pass type, not once per node.
"""
from __future__ import annotations

import copy
import functools
import pickle
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (ConditionalCheckFailed, MockValidationException,
                                      MultipleTransactionsException, TooManyTransactionsException,
                                      TransactionCanceledException, TransactWriteSingleOpException)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
from moto.dynamodb.parsing.expressions import UpdateExpressionParser


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    touched: set[tuple[str, str]] = set()
    backups: list[tuple[str, dict, dict | None]] = []

    def restore() -> None:
        for table_name, key, original in reversed(backups):
            if original is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, original)

    errors: list = []
    for entry in transact_items:
        original_item = None
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(entry.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                table = self.get_table(table_name)
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            identity = (str(table_name), str(dict(sorted(key.items()))))
            if identity in touched:
                raise MultipleTransactionsException()
            touched.add(identity)

            current = self.get_item(table_name, key)
            if condition is not None:
                if not get_filter_expression(condition, names, values).expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                backups.append((table_name, key,
                                current.to_json()["Attributes"] if current else None))
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition,
                              expression_attribute_names=names,
                              expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition,
                                 expression_attribute_names=names,
                                 expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition,
                                 expression_attribute_names=names,
                                 expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            restore()
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:  # noqa: BLE001 - reported per item, as moto does
            errors.append((type(error).__name__, str(error), original_item))
    if any(code is not None for code, _, _ in errors):
        restore()
        raise TransactionCanceledException(errors)


class _KeptUpdateExpressions:
    """Stands in for moto's UpdateExpressionParser where moto calls `make`."""
    make = staticmethod(functools.lru_cache(maxsize=4096)(UpdateExpressionParser.make))


def _copy_tree(tree):
    try:
        return pickle.loads(pickle.dumps(tree, pickle.HIGHEST_PROTOCOL))
    except Exception:  # anything pickle cannot carry is copied the usual way
        return copy.deepcopy(tree)


_handled_types: dict[type, tuple] = {}


def _nodes_to_be_processed(self) -> tuple:
    """moto's own builds its processing map again for every node it visits; the node types
    a pass handles are the same for every instance of that pass."""
    kind = type(self)
    types = _handled_types.get(kind)
    if types is None:
        types = _handled_types[kind] = tuple(self._processing_map())
    return types


def apply() -> None:
    from moto.dynamodb import models, responses
    from moto.dynamodb.parsing import validators

    from infra.local import key_index
    DynamoDBBackend.transact_write_items = _transact_write_items
    models.UpdateExpressionParser = responses.UpdateExpressionParser = _KeptUpdateExpressions
    validators.deepcopy = _copy_tree
    DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed
    key_index.install()
