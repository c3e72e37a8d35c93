"""The torch_npu names the product uses, where each torch-npu release defines them, and per-release facts.

:data:`USES` is the one table to extend when product code starts using another torch_npu name
(test_torch_npu_coverage.py fails until it is listed); test_torch_npu_names.py checks every entry
against every torch-npu wheel. :data:`RELEASES` records what differs between the supported releases.
"""
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Use:
    """One torch_npu name the product uses, and what the product relies on about it.

    Attributes:
        name: the dotted name as product code spells it (``torch.npu.x`` is ``torch_npu.npu.x``).
        defined_in: the file in the wheel that defines it, after following imports and re-exports;
            for an operator implemented in C++, the YAML file registering its schema.
        qualname: the class or function in that file (``''`` for the module itself; the operator's
            name for a YAML file).
        why: what the product does with it, shown when the check fails.
        positional: the leading parameters (after ``self``) that the product passes by position.
        keywords: the parameters that the product passes by name.
        defaults: parameter defaults the product relies on.
        bases: base classes (dotted, inside the wheel or outside it) whose behaviour the product uses.
        attributes: attributes that the class's methods set on ``self`` and the product reads or sets.
        string_keys: string keys that the code uses and the product reads or writes too.
        raises_if: the source text of an ``if`` test whose branch raises (a call the product avoids), or
            of one operand of such a test's ``and`` (the product keeps that operand false).
        continues_if: the source text of an ``if`` test whose branch is ``continue`` (an item skipped).
        returns: an operator's documented outputs, in order.
        broken_in: torch-npu version -> how the product's use breaks with it (the check is then
            expected to fail there, and fails if it passes: the entry is stale).
    """

    name: str
    defined_in: str
    qualname: str
    why: str
    positional: Tuple[str, ...] = ()
    keywords: Tuple[str, ...] = ()
    defaults: Dict[str, object] = field(default_factory=dict)
    bases: Tuple[str, ...] = ()
    attributes: Tuple[str, ...] = ()
    string_keys: Tuple[str, ...] = ()
    raises_if: str = ''
    continues_if: str = ''
    returns: Tuple[str, ...] = ()
    broken_in: Dict[str, str] = field(default_factory=dict)


_SCALER = 'torch_npu/npu/amp/grad_scaler.py'
_UTILS = 'torch_npu/npu/utils.py'
_NPU = 'torch_npu/npu/__init__.py'
_NATIVE_FUNCTIONS = 'torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml'  # the exposed C++ operators
_SCALER_ARGS = ('init_scale', 'growth_factor', 'backoff_factor', 'growth_interval', 'enabled')

USES = [
    # AMP on npu (ssd_npu/engine/optimizers/amp_optim_wrapper.py, build_loss_scaler and AmpOptimWrapper).
    Use('torch.npu.amp.GradScaler', _SCALER, 'GradScaler',
        'the loss scaler of AMP on npu: unlike torch.amp.GradScaler("npu") it clears and reads the 910A '
        'float-status flag and all-reduces overflow across ranks. The product marks an overflow seen on '
        "any rank in torch's found_inf_per_device record (in _per_optimizer_states, from torch's base "
        'class) and in _has_overflow, which this scaler also reads',
        keywords=(*_SCALER_ARGS, 'dynamic'), bases=('torch.amp.grad_scaler.GradScaler',),
        attributes=('_has_overflow', '_per_optimizer_states'), string_keys=('found_inf_per_device',)),
    Use('torch.npu.amp.GradScaler.scale', _SCALER, 'GradScaler.scale',
        "mmengine's AmpOptimWrapper.backward scales the loss with it", positional=('outputs',)),
    Use('torch.npu.amp.GradScaler.unscale_', _SCALER, 'GradScaler.unscale_',
        'AmpOptimWrapper.step unscales before it agrees on overflow and clips', positional=('optimizer',)),
    Use('torch.npu.amp.GradScaler.step', _SCALER, 'GradScaler.step',
        'AmpOptimWrapper.step steps the optimizer through it (skipped on overflow)',
        positional=('optimizer',)),
    Use('torch.npu.amp.GradScaler.update', _SCALER, 'GradScaler.update',
        'AmpOptimWrapper.step updates the scale with the configured fixed scale, if any',
        positional=('new_scale',)),
    Use('torch.npu.amp.GradScaler.state_dict', _SCALER, 'GradScaler.state_dict',
        "checkpoints save the scaler's state"),
    Use('torch.npu.amp.GradScaler.load_state_dict', _SCALER, 'GradScaler.load_state_dict',
        "resuming restores the scaler; it reads state_dict['dynamic'], which AmpOptimWrapper.load_state_dict "
        'fills in for a checkpoint saved on another device', positional=('state_dict',),
        string_keys=('dynamic',)),
    Use('torch.distributed.fsdp.sharded_grad_scaler.ShardedGradScaler',
        'torch_npu/npu/amp/sharded_grad_scaler.py', '_ShardedGradScaler',
        'build_loss_scaler(use_fsdp=True) reads this torch name at call time because torch_npu replaces it '
        "on import with its NPU scaler, and calls it as ShardedGradScaler(device_type, **scaler_args)",
        positional=('device',), keywords=_SCALER_ARGS,
        broken_in={'2.6.0.post5': "this release's scaler takes no device: the product's first argument "
                                  "becomes init_scale, so an FSDP AMP run on npu fails"}),
    # Overflow on the 910A, which saturates instead of writing inf/NaN (ssd_npu/engine/overflow_check.py).
    Use('torch_npu.npu.utils.is_support_inf_nan', _UTILS, 'is_support_inf_nan',
        'False on the 910A: OverflowCheck then reads the float-status flag instead of torch.isfinite'),
    Use('torch_npu.npu.utils.get_npu_overflow_flag', _UTILS, 'get_npu_overflow_flag',
        'OverflowCheck reads the 910A flag with it; it raises on chips with inf/NaN mode, so the product '
        'calls it only where is_support_inf_nan() is False', raises_if='is_support_inf_nan()'),
    Use('torch_npu.npu.utils.clear_npu_overflow_flag', _UTILS, 'clear_npu_overflow_flag',
        'OverflowCheck.clear resets the 910A flag before the region it judges'),
    Use('torch_npu.npu.utils.get_soc_version', 'torch_npu/npu/_backends.py', 'get_soc_version',
        'tools/misc/npu_check_facts.py reports the SoC version (below 220: the 910A family)'),
    # Devices (ssd_npu/utils/device.py, mmcv_patches/dist_utils.py, the --gpu-ids flags, hooks, tools).
    Use('torch.npu.is_available', _NPU, 'is_available', 'get_device picks npu when it is True'),
    Use('torch.npu.set_device', _UTILS, 'set_device',
        "distributed init and --gpu-id select this process's device", positional=('device',)),
    Use('torch.npu.device_count', _NPU, 'device_count',
        '--gpu-id checks the index against it; tools/misc/npu_check_facts.py reports it'),
    Use('torch.npu.get_device_name', _NPU, 'get_device_name',
        "tools/misc/npu_check_facts.py reports the chip's name", positional=('device_name',)),
    Use('torch.npu.is_bf16_supported', _UTILS, 'is_bf16_supported',
        'tools/misc/npu_check_facts.py reports whether bf16 AMP can run (910B and later)'),
    Use('torch.npu.synchronize', _UTILS, 'synchronize',
        'the benchmarks time device work, reached as getattr(torch, device).synchronize()'),
    Use('torch.npu.max_memory_allocated', 'torch_npu/npu/memory.py', 'max_memory_allocated',
        'ThroughputHook and the benchmarks log peak device memory'),
    # The fused optimizer (ssd_npu/engine/optimizers/fused_sgd_builder.py).
    Use('torch_npu.optim.NpuFusedSGD', 'torch_npu/optim/npu_fused_sgd.py', 'NpuFusedSGD',
        "the SGD and NpuFusedSGD config types build it on npu with SGD's classic arguments",
        positional=('params',), keywords=('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov')),
    Use('torch_npu.optim.NpuFusedSGD.zero_grad', 'torch_npu/optim/npu_fused_optim_base.py',
        'NpuFusedOptimizerBase.zero_grad',
        'its gradients live in one combined buffer, so set_to_none=True raises: the product zeroes them '
        'with the default', keywords=('set_to_none',), defaults={'set_to_none': False},
        raises_if='set_to_none'),
    Use('torch_npu.optim.NpuFusedSGD._maybe_init_combined_params_and_grads',
        'torch_npu/optim/npu_fused_optim_base.py',
        'NpuFusedOptimizerBase._maybe_init_combined_params_and_grads',
        'on the first step it moves parameters and gradients into combined buffers, leaving out for good '
        'every parameter without a gradient then: such a parameter is never updated afterwards',
        continues_if='p.grad is None'),
    # Batched NMS on npu (ssd_npu/models/dense_heads/npu_batch_nms.py, the NMS step on npu).
    Use('torch_npu.npu_batch_nms', _NATIVE_FUNCTIONS, 'npu_batch_nms',
        "the SSD head's batched per-class NMS on npu, with fixed-size outputs (torchvision's nms has no "
        'npu kernel)',
        positional=('self', 'scores', 'score_threshold', 'iou_threshold', 'max_size_per_class',
                    'max_total_size'),
        keywords=('change_coordinate_frame', 'transpose_box'),
        defaults={'change_coordinate_frame': False, 'transpose_box': False},
        returns=('nmsed_boxes', 'nmsed_scores', 'nmsed_classes', 'nmsed_num')),
    # Graph mode through Ascend's graph engine (ssd_npu/cli/graph_compile.py).
    Use('torch_npu.dynamo.torchair', 'torch_npu/dynamo/torchair/__init__.py', '',
        'compile on npu builds its torch.compile backend with torchair, bundled in torch_npu'),
    Use('torch_npu.dynamo.torchair.get_npu_backend', 'torch_npu/dynamo/torchair/npu_fx_compiler.py',
        'get_npu_backend', 'the torch.compile backend of the graph engine', keywords=('compiler_config',)),
    Use('torch_npu.dynamo.torchair.CompilerConfig', 'torch_npu/dynamo/torchair/configs/compiler_config.py',
        'CompilerConfig', "get_npu_backend's configuration"),
]


@dataclass(frozen=True)
class Probe:
    """A torch_npu name that product code reads with a fallback (``getattr(..., None)``) because a
    torch-npu release may lack it.

    Attributes:
        name: the dotted name as product code spells it.
        why: what the product does with it, and without it.
        present_in: the supported torch-npu versions that have it (test_torch_npu_names.py checks that
            exactly these wheels define it, so the product's fallback is known to be the path taken
            on the others).
    """

    name: str
    why: str
    present_in: Tuple[str, ...] = ()


PROBES = [
    Probe('torch.npu.native_device',
          "torch_npu 1.x's name for the device torch knew: mmengine's BaseDataPreprocessor.to rewrites "
          "'npu' with it; mmcv_patches/data_preprocessor.py rewrites only where it exists, so 'npu' stays "
          "'npu' (torch-npu 2.x renames the privateuse1 backend to npu)"),
]


@dataclass(frozen=True)
class Release:
    """What a torch-npu release declares that the product's documentation and graph mode depend on.

    Attributes:
        torch_pin: its ``Requires-Dist`` on torch, name and version specifier as pip reads them (the
            README quotes it; 2.6.0.post5's METADATA writes ``torch (==2.6.0+cpu)``).
        requires_python: its ``Requires-Python``; None where it declares none (its wheels' tags alone
            say which Python each is for).
        dynamo_entry_points: the ``torch_dynamo_backends`` entry points it declares (backend names
            torch.compile finds without importing torch_npu first).
        dynamo_backends_on_import: the backends that ``torch_npu.dynamo`` registers when imported.
        torch_backends: its ``torch.backends`` entry points (name -> ``module:function``): torch's
            device-backend autoload calls each function inside ``import torch``, which so imports
            torch_npu (``TORCH_DEVICE_BACKEND_AUTOLOAD=0`` turns it off).
    """

    torch_pin: str
    requires_python: Optional[str]
    dynamo_entry_points: Tuple[str, ...]
    dynamo_backends_on_import: Tuple[str, ...]
    torch_backends: Dict[str, str]


RELEASES = {
    # The newest release; it registers its graph backends by entry point and sets them up lazily.
    '2.14.0': Release('torch==2.14.0.*', None, ('npu', 'npugraph_ex', 'npugraphs'), (),
                      {'torch_npu': 'torch_npu:_autoload'}),
    # The oldest release the product supports; its torch is the local version on PyTorch's CPU index.
    # No dynamo entry points: its torch_npu.dynamo registers 'npu' and 'npugraph_ex' when imported.
    '2.6.0.post5': Release('torch==2.6.0+cpu', None, (), ('npu', 'npugraph_ex'),
                           {'torch_npu': 'torch_npu:_autoload'}),
}
