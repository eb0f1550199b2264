"""The ``.agea`` accessor tells the truth: same signatures as its functions, honest scope."""

from __future__ import annotations

import importlib
import inspect

import pytest
import xarray as xr

import agea_xr
from agea_xr.accessor import DELEGATES, UNBOUND, AgeaDataArrayAccessor, AgeaDatasetAccessor

ANALYSES = {
    "region_expression",
    "seed_correlation",
    "gene_finder",
    "voxel_matrix",
    "similar_genes",
    "clusters",
    "decode",
}


def target(method: str):
    module, name = DELEGATES[method].split(":")
    return getattr(importlib.import_module(module), name)


def public(cls) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_every_public_method_has_a_delegate():
    assert public(AgeaDatasetAccessor) == set(DELEGATES)
    assert public(AgeaDataArrayAccessor) == set(DELEGATES) - ANALYSES


@pytest.mark.parametrize("method", sorted(DELEGATES))
def test_signature_equals_the_function(method):
    func = inspect.signature(target(method))
    meth = inspect.signature(getattr(AgeaDatasetAccessor, method))
    func_params = list(func.parameters.values())
    if method not in UNBOUND:
        func_params = func_params[1:]  # the xarray object
    meth_params = list(meth.parameters.values())[1:]  # self
    assert [(p.name, p.kind, p.default, str(p.annotation)) for p in meth_params] == [
        (p.name, p.kind, p.default, str(p.annotation)) for p in func_params
    ]
    assert str(meth.return_annotation) == str(func.return_annotation)


def test_a_signature_drift_is_caught():
    def function(obj, a, b=1, *, c=None): ...

    def method(self, a, b=2, *, c=None): ...

    f = list(inspect.signature(function).parameters.values())[1:]
    m = list(inspect.signature(method).parameters.values())[1:]
    assert [(p.name, p.default) for p in f] != [(p.name, p.default) for p in m]


def test_delegation_gives_the_function_result():
    ds = agea_xr.open_sample()
    from agea_xr.analysis import region_expression
    from agea_xr.regions import region_mask

    xr.testing.assert_identical(
        ds.agea.region_mask("CP", hemisphere="left"), region_mask(ds, "CP", hemisphere="left")
    )
    xr.testing.assert_identical(
        ds.agea.region_expression("Cosmos").compute(), region_expression(ds, "Cosmos").compute()
    )
    assert ds.expression.agea.genes().equals(ds.agea.genes())


def test_dataarray_accessor_has_no_dataset_analyses():
    da = agea_xr.open_sample().expression
    for name in ANALYSES:
        assert not hasattr(da.agea, name)


def test_repr_says_what_it_is():
    ds = agea_xr.open_sample()
    text = repr(ds.agea)
    assert text.startswith("<agea accessor on an xarray.Dataset (experiment: 2, ml: 58")
    assert "region_expression" in text
    assert "region_expression" not in repr(ds.expression.agea)
    assert repr(ds.expression.agea).startswith("<agea accessor on an xarray.DataArray")
