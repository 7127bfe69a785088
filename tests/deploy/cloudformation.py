"""Read deploy/cloudformation.yaml as CloudFormation would deploy it, for given parameters.

`Stack(parameters)` evaluates the template's conditions and resolves the intrinsic functions
the template uses (Ref, Fn::GetAtt, Fn::Sub, Fn::If, AWS::NoValue), with the buckets named
as the app's defaults so that the result compares with the tested policy documents. Any
other function fails loudly: a template that grows one needs it here too.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from cfnlint.decode import cfn_yaml

from securestore.config import settings_from_environ
from tests.deploy.harness import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy" / "cloudformation.yaml"
ELASTIC_IP = "203.0.113.10"
REGION = "eu-west-1"
_DEFAULTS = settings_from_environ({}, "/unused")
# What Ref answers for the stack's own resources and pseudo parameters.
NAMES = {
    "PrimaryBucket": _DEFAULTS["S3_PRIMARY_BUCKET"],
    "BackupBucket": _DEFAULTS["S3_BACKUP_BUCKET"],
    "ElasticIp": ELASTIC_IP,
    "InstallHandle": "https://cloudformation-waitcondition.example/handle",
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "securestore",
}
_NO_VALUE = object()
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


@cache
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.loads(TEMPLATE.read_text())
    return loaded


class Stack:
    """The template as deployed with `parameters` (the rest at their defaults)."""

    def __init__(self, **parameters: str) -> None:
        declared = template()["Parameters"]
        unknown = set(parameters) - set(declared)
        assert not unknown, f"no such parameters: {unknown}"
        self.parameters = {
            name: str(parameters.get(name, spec.get("Default", "")))
            for name, spec in declared.items()
        }
        self.conditions: dict[str, bool] = {}
        for name, expression in template()["Conditions"].items():
            self.conditions[name] = self._condition(expression)

    def resource(self, name: str) -> dict[str, Any]:
        """A resource's properties, resolved; {} when its condition leaves it out."""
        resource = template()["Resources"][name]
        if "Condition" in resource and not self.conditions[resource["Condition"]]:
            return {}
        properties: dict[str, Any] = self.resolve(resource.get("Properties", {}))
        return properties

    def resolve(self, node: Any, variables: dict[str, str] | None = None) -> Any:
        variables = variables or {}
        if isinstance(node, list):
            items = (self.resolve(item, variables) for item in node)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                parts = argument if isinstance(argument, list) else argument.split(".")
                return self._attribute(*parts)
            if key == "Fn::If":
                condition, then, otherwise = argument
                return self.resolve(then if self.conditions[condition] else otherwise, variables)
            if key == "Fn::Sub":
                return self._sub(argument, variables)
            if key == "Fn::Base64":
                return self.resolve(argument, variables)
            assert not key.startswith("Fn::"), f"{key}: add it to tests/deploy/cloudformation.py"
        items = ((key, self.resolve(value, variables)) for key, value in node.items())
        return {key: value for key, value in items if value is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in NAMES:
            return NAMES[name]
        assert name in template()["Resources"], f"Ref to nothing: {name}"
        return name  # a stand-in for an id only AWS knows

    def _attribute(self, resource: str, attribute: str) -> str:
        if attribute == "Arn" and resource in NAMES:
            return f"arn:aws:s3:::{NAMES[resource]}"
        assert resource in template()["Resources"], f"GetAtt of nothing: {resource}"
        return f"{resource}.{attribute}"

    def _sub(self, argument: Any, variables: dict[str, str]) -> str:
        if isinstance(argument, list):
            text, extra = argument
            variables = {**variables, **{k: self.resolve(v) for k, v in extra.items()}}
        else:
            text = argument

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._attribute(*name.split(".", 1))
            return str(self._ref(name))

        return _SUB.sub(value, text).replace("${!", "${")

    def _condition(self, expression: dict[str, Any]) -> bool:
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.conditions[argument]
        if function == "Fn::Equals":
            left, right = (self.resolve(side) for side in argument)
            return bool(left == right)
        if function == "Fn::Not":
            return not self._condition(argument[0])
        if function == "Fn::Or":
            return any(self._condition(part) for part in argument)
        if function == "Fn::And":
            return all(self._condition(part) for part in argument)
        raise AssertionError(f"{function}: add it to tests/deploy/cloudformation.py")
