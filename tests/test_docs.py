"""The README and docs/ as a user reads them: short README, links that lead somewhere, and every
module, script and config they name present in the repository."""
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from repo_paths import REPO

README = REPO / 'README.md'
DOCS = sorted((REPO / 'docs').glob('*.md'))
PAGES = [README, *DOCS]
PAGE_IDS = [str(page.relative_to(REPO)) for page in PAGES]

LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
MODULE = re.compile(r'(?<![\w/.-])ssd_npu(?:\.[A-Za-z_]\w*)+')
FOLDERS = 'ssd_npu|tools|configs|tests|mmcv_patches|requirements|docs'
FILE = re.compile(rf'(?<![\w/.-])((?:{FOLDERS})/[\w./*-]*[\w*])')
FENCE = re.compile(r'^```[^\n]*\n(.*?)^```', re.S | re.M)
SCRIPT = re.compile(r'(?<![\w-])(?:python|bash)\s+((?:[\w.-]+/)*[\w.-]+\.(?:py|sh))\b')


def text(page: Path) -> str:
    return page.read_text(encoding='utf-8')


def anchors(page: Path) -> set:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces -> '-'."""
    headings = re.findall(r'^#+\s+(.+?)\s*$', FENCE.sub('', text(page)), re.M)
    return {re.sub(r'[^\w\- ]', '', heading.lower()).replace(' ', '-') for heading in headings}


def test_the_readme_is_short():
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f'README.md is {size} bytes; move details into docs/ (limit 12 kB)'


def links(page: Path) -> Iterator[Tuple[str, Path, str]]:
    for target in LINK.findall(text(page)):
        if re.match(r'[a-z]+:', target):        # http(s), mailto: not checked offline
            continue
        path, _, anchor = target.partition('#')
        yield target, (page.parent / path).resolve() if path else page, anchor


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_every_relative_link_points_at_an_existing_file(page):
    broken = [target for target, path, _ in links(page) if not path.exists()]
    assert not broken, f'{page.name}: links to missing files: {broken}'


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_every_link_anchor_names_a_heading(page):
    broken = [target for target, path, anchor in links(page)
              if anchor and path.suffix == '.md' and path.exists() and anchor not in anchors(path)]
    assert not broken, f'{page.name}: links to missing headings: {broken}'


def module_exists(dotted: str) -> object:
    """``ssd_npu.a.b`` is a module or package, or ``ssd_npu.a.Name`` a name defined in module ``a``."""
    parts = dotted.split('.')
    for end in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:end])
        module = base.with_suffix('.py') if base.with_suffix('.py').is_file() else base / '__init__.py'
        if module.is_file():
            rest = parts[end:]
            return not rest or (len(rest) == 1 and re.search(rf'\b{rest[0]}\b', module.read_text()))
    return False


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_every_named_module_exists(page):
    missing = sorted({name for name in MODULE.findall(text(page)) if not module_exists(name)})
    assert not missing, f'{page.name} names modules that do not exist: {missing}'


def named_files(page: Path) -> List[str]:
    return sorted({path for path in FILE.findall(text(page)) if '*' not in path})


@pytest.mark.parametrize('page', PAGES, ids=PAGE_IDS)
def test_every_named_file_exists(page):
    missing = [path for path in named_files(page) if not (REPO / path).exists()]
    assert not missing, f'{page.name} names files that do not exist: {missing}'


def test_the_file_check_sees_the_tools_and_configs():
    named = {path for page in PAGES for path in named_files(page)}
    assert {'tools/train.py', 'tools/test.py', 'configs/ssd300_coco.py', 'configs/synthetic_demo.py',
            'tools/analysis_tools/confusion_matrix.py'} <= named


def readme_commands() -> List[str]:
    return [line for block in FENCE.findall(text(README)) for line in block.splitlines()
            if SCRIPT.search(line)]


def test_every_readme_command_runs_an_existing_script():
    commands = readme_commands()
    assert any('tools/demo_synthetic.py' in line for line in commands)
    scripts = [script for line in commands for script in SCRIPT.findall(line)]
    missing = [script for script in scripts if not (REPO / script).is_file()]
    assert not missing, f'README.md runs scripts that do not exist: {missing}'


def test_the_readme_test_command_is_the_ci_command():
    ci = (REPO / '.ci' / 'run').read_text()
    pytest_line = next(line for line in ci.splitlines() if line.startswith('python -m pytest'))
    assert pytest_line in text(README)


def test_the_deploy_snippet_lives_in_the_deployment_doc():
    assert '<!-- deploy-snippet -->' in text(REPO / 'docs' / 'deployment.md')


def documented_commands() -> dict:
    """``{command: {--flag, ...}}`` for every ``python tools/...py`` and ``ssd_npu COMMAND`` line in the
    README's and docs' code blocks and inline code."""
    commands = {}
    for page in PAGES:
        body = text(page)
        snippets = [block.replace('\\\n', ' ') for block in FENCE.findall(body)]
        snippets += re.findall(r'`([^`\n]+)`', FENCE.sub('', body))
        for snippet in snippets:
            for match in re.finditer(r'(?<![\w-])(?:python\s+(tools/[\w/.-]+\.py)|ssd_npu\s+([a-z][\w-]*))'
                                     r'([^\n&|;#`]*)', snippet):
                command = match.group(1) or f'ssd_npu {match.group(2)}'
                flags = re.findall(r'(?<![\w-])(--[a-z][\w-]*)', match.group(3))
                commands.setdefault(command, set()).update(flags)
    return commands


DOCUMENTED = documented_commands()


def help_text(args: List[str]) -> str:
    """What ``args --help`` prints, then the help of each of its sub-commands (``{a,b} ...`` in the
    usage; ``--flag {a,b}`` are an option's choices)."""
    shown = subprocess.run([*args, '--help'], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0, shown.stderr[-2000:]
    subcommands = re.search(r'(?<![\w-] )\{([\w,-]+)\} \.\.\.', shown.stdout.split('\n\n')[0])
    if subcommands is None:
        return shown.stdout
    return '\n'.join([shown.stdout, *(help_text([*args, name]) for name in subcommands.group(1).split(','))])


@pytest.mark.parametrize('command', sorted(DOCUMENTED))
def test_every_documented_command_runs_and_takes_its_documented_flags(command):
    if command.startswith('ssd_npu '):
        args = [sys.executable, '-m', 'ssd_npu.cli.main', *command.split()[1:]]
    else:
        args = [sys.executable, command]
    shown = help_text(args)
    missing = sorted(flag for flag in DOCUMENTED[command] if flag not in shown)
    assert not missing, f'{command} does not take {missing}, which the docs use'
