"""The HTML report rendered by headless Chromium (Debian's `chromium`): the DOM it builds has the charts, their
series, baseline and target band, and the table values; the screenshot is a real image of the page."""

from __future__ import annotations

import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from daemon.cli.main import main
from daemon.store.database import Database
from tests.kpi.conftest import BASELINE_END, REPORT_END, Rollout

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1600",
]


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Node] = field(default_factory=list)

    def find(self, tag: str, **attrs: str) -> list[Node]:
        found = (
            [self]
            if self.tag == tag and all(self.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            else []
        )
        return found + [n for c in self.children for n in c.find(tag, **attrs)]

    def all_text(self) -> str:
        return self.text + "".join(c.all_text() for c in self.children)


class Dom(HTMLParser):
    """Enough of a DOM to query what Chromium serialised: elements, attributes, text."""

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.root = Node("#root", {})
        self._stack = [self.root]
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self._stack[-1].children.append(node)
        if tag not in self.VOID:
            self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].children.append(Node("#text", {}, data))


def chromium(page: Path, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (Debian package chromium, via make system-deps)")
    profile = tmp_path / "chromium-profile"
    argv = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *mode, page.as_uri()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture
async def page(db: Database, config: Path, tmp_path: Path) -> Path:
    """An eight-week report over the scripted rollout, against the baseline of its first four weeks."""
    rollout = Rollout(db)
    await rollout.before()
    assert (
        main(["kpi", "baseline", "--config", str(config), "--until", BASELINE_END.isoformat(), "--window", "28d"]) == 0
    )
    await rollout.after()
    out = tmp_path / "report.html"
    argv = ["--until", REPORT_END.isoformat(), "--since", "8w", "--format", "html", "--output", str(out)]
    assert main(["kpi", "report", "--config", str(config), *argv]) == 0
    return out


def test_rendered_dom_has_charts_series_and_table_values(page: Path, tmp_path: Path) -> None:
    dom = Dom(chromium(page, tmp_path, "--dump-dom").stdout).root
    charts = dom.find("svg")
    assert sorted((c.attrs["data-tenant"], c.attrs["data-kpi"]) for c in charts) == [
        (tenant, kpi) for tenant in ("acme", "globex", "initech") for kpi in ("compliance", "mttr_p50")
    ]
    acme = dom.find("section", data_tenant="acme")[0]
    weekly = acme.find("table", **{"class": "weekly"})[0].find("tr")[1:]
    assert len(weekly) == 8
    mttr_cells = [row.find("td")[0].all_text() for row in weekly]

    mttr = acme.find("svg", data_kpi="mttr_p50")[0]
    points = mttr.find("circle", data_series="mttr_p50")
    # one point per week with data, as the table fallback lists them; gaps stay gaps
    assert len(points) == sum(cell != "no data" for cell in mttr_cells) == 7
    assert [p.all_text() for p in points][4] == "2026-02-02: 45m"
    assert len(mttr.find("polyline", data_series="mttr_p50")) == 1  # weeks 1-6; week 8 stands alone
    ys = {p.all_text().split(": ")[1]: float(p.attrs["cy"]) for p in points}
    baseline = mttr.find("line", **{"class": "baseline"})[0]
    band = mttr.find("rect", **{"class": "target-band"})[0]
    band_top, band_bottom = float(band.attrs["y"]), float(band.attrs["y"]) + float(band.attrs["height"])
    # larger values sit higher (smaller y): 4 h above the 1 h 45 m baseline, above the 63-84 min band, above 45 min
    assert ys["4h"] < float(baseline.attrs["y1"]) < band_top < band_bottom < ys["45m"]
    assert "baseline 1h 45m" in mttr.all_text()

    compliance = acme.find("svg", data_kpi="compliance")[0]
    assert len(compliance.find("circle", data_series="compliance")) == 7
    assert compliance.find("rect", **{"class": "target-band"})

    row = acme.find("tr", data_kpi="mttr_p50")[0]
    cells = [c.all_text() for c in row.find("td")]
    assert cells == ["1h 45m (n=4)", "1h 15m (n=7)", "-30m (-28.6%)", "20-40% lower: 1h 03m to 1h 24m", "met"]
    precision = [c.all_text() for c in acme.find("tr", data_kpi="precision")[0].find("td")]
    assert precision[1:] == ["77.8% (7/9)", "+11.1 pts (+16.7%)", ">= 80.0%", "not met"]

    initech = dom.find("svg", data_tenant="initech", data_kpi="mttr_p50")[0]
    assert initech.find("circle") == []
    assert initech.find("polyline") == []
    assert initech.find("line", **{"class": "baseline"}) == []
    assert "no data in this period" in initech.all_text()
    assert charts[0].attrs["role"] == "img"
    assert all(c.attrs["aria-labelledby"] for c in charts)


def test_screenshot_is_a_full_page_image(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(page, tmp_path, f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 1600)
    assert len(data) > 50_000  # text, tables and charts, not a blank page
