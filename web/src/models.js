// The five models' answers as panels: a table of the headline figures (each row carries
// `data-key` with the API's field name, so a test can compare it with the API) and
// ECharts charts. Field names are the API's (server/src/analysis.rs); a missing figure
// shows "—", a withheld one says so.

import { echarts } from './charts.js';
import { esc, CATEGORY_LABELS, label } from './common.js';

const int = (v) => (typeof v === 'number' ? Math.round(v).toLocaleString('zh-CN') : '—');
const pct = (v) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '—');
const dec = (d) => (v) => (typeof v === 'number' ? v.toFixed(d) : '—');
const signed = (v) => (typeof v === 'number' ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%` : '—');

const COLORS = ['#1f6feb', '#0e9f6e', '#b45309', '#a23b72', '#7c3aed', '#2e86ab', '#e4572e'];

/** A model block with its title, key figures and charts; returns the chart instances. */
function block(container, id, title, rows, charts, note) {
  const div = document.createElement('div');
  div.className = 'model';
  div.dataset.model = id;
  div.innerHTML = `<h3>${esc(title)}</h3>${note ? `<p class="note">${esc(note)}</p>` : ''}
    <table class="kv">${rows
      .map(([key, name, value, format]) => `<tr data-key="${esc(key)}"><th>${esc(name)}</th><td>${esc((format || int)(value))}</td></tr>`)
      .join('')}</table>`;
  container.append(div);
  const made = [];
  for (const option of charts) {
    if (!option) continue;
    const box = document.createElement('div');
    box.className = 'chart';
    div.append(box);
    const chart = echarts.init(box);
    chart.setOption({
      animation: false,
      textStyle: { fontFamily: 'system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif' },
      tooltip: {},
      ...option,
      title: { text: option.title, textStyle: { fontSize: 13, fontWeight: 'normal', color: '#1f2937' } },
    });
    made.push(chart);
  }
  return made;
}

function bars(title, entries, color = '#1f6feb') {
  if (!entries.length || entries.every(([, v]) => !v)) return null;
  return {
    title,
    grid: { left: 48, right: 12, top: 32, bottom: 40 },
    xAxis: { type: 'category', data: entries.map(([k]) => k), axisLabel: { rotate: entries.length > 6 ? 35 : 0, fontSize: 12 } },
    yAxis: { type: 'value', axisLabel: { fontSize: 12 } },
    series: [{ type: 'bar', data: entries.map(([, v]) => v), itemStyle: { color } }],
  };
}

function pie(title, entries) {
  if (!entries.length || entries.every(([, v]) => !v)) return null;
  return {
    title,
    legend: { bottom: 0, textStyle: { fontSize: 12 } },
    series: [{
      type: 'pie', radius: ['35%', '62%'], center: ['50%', '50%'], label: { fontSize: 12, formatter: '{b} {d}%' },
      data: entries.map(([name, value], i) => ({ name, value, itemStyle: { color: COLORS[i % COLORS.length] } })),
    }],
  };
}

/** Model 1: population structure (also the drawn polygon's answer). */
export function renderPopulation(container, p, title = '人口结构') {
  const kg = p.key_groups || {};
  const rows = [
    ['residents', '实有人口', p.residents],
    ['households', '户数', p.households],
    ['mean_household_size', '户均人数', p.mean_household_size, dec(2)],
    ['area_km2', '面积 (km²)', p.area_km2, dec(2)],
    ['density_per_km2', '人口密度 (人/km²)', p.density_per_km2],
    ['share_60_plus', '60 岁及以上占比', p.share_60_plus, pct],
    ['floating_share', '流动人口占比', p.floating_share, pct],
    ['elderly_alone', '独居老人', p.elderly_alone],
    ['key_groups', '重点人群', kg.withheld ? '无权限查看' : kg.persons ?? '少于 5 人不显示', (v) => (typeof v === 'number' ? int(v) : v)],
  ];
  const ages = Object.entries(p.age_bands || {});
  const sizes = Object.entries(p.households_by_size || {}).map(([k, v]) => [`${k} 人`, v]);
  return block(container, 'population', title, rows, [
    bars('年龄结构', ages, '#1f6feb'),
    bars('户规模', sizes, '#0e9f6e'),
  ], p.reference_month ? `统计月份 ${p.reference_month}` : '');
}

const SIZE_NAMES = { micro: '微型', small: '小型', medium: '中型', large: '大型' };

/** Model 2: housing units and enterprises. */
export function renderHousing(container, h, title = '房屋与企业') {
  const e = h.enterprises || {};
  const rows = [
    ['units', '住房套数', h.units],
    ['owner_occupied', '自住', h.owner_occupied],
    ['rented', '出租', h.rented],
    ['vacant', '空置', h.vacant],
    ['vacant_share', '空置率', h.vacant_share, pct],
    ['overcrowded_units', '群租（过密）住房', h.overcrowded_units],
    ['mismatched_units', '人房不符住房', h.mismatched_units],
    ['enterprises', '企业', e.total],
    ['employees', '从业人员', e.employees],
  ];
  return block(container, 'housing', title, rows, [
    pie('住房使用', [['自住', h.owner_occupied], ['出租', h.rented], ['空置', h.vacant]]),
    bars('企业规模', Object.entries(e.by_size || {}).map(([k, v]) => [SIZE_NAMES[k] || k, v]), '#7c3aed'),
  ]);
}

/** Model 5: closed-loop efficiency for the window the server chose (or was given). */
export function renderEfficiency(container, f, title = '闭环效率') {
  const w = f.window || {};
  const rows = [
    ['events', '事件', f.events],
    ['closed', '已办结', f.closed],
    ['closure_rate', '办结率', f.closure_rate, pct],
    ['mediation_rate', '矛盾纠纷调解成功率', f.mediation_rate, pct],
    ['overdue', '超期', f.overdue?.total],
    ['year_on_year', '事件同比', f.year_on_year?.total?.relative, signed],
  ];
  const cats = (f.by_category || []).map((c) => [label(CATEGORY_LABELS, c.category), c.events]);
  // The server's default window: the latest year with events, up to today when that is
  // this year (the year-on-year change then compares the same days of last year).
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  const which = w.to === today ? '今年截至今日，同比为去年同期' : '最近有事件的自然年';
  return block(container, 'efficiency', title, rows, [bars('事件类别', cats, '#e4572e')],
    w.from ? `统计时段 ${w.from} 至 ${w.to}（${which}）` : '');
}

const TIER_NAMES = { large: '高', medium: '中', small: '低' };

/** Model 4: risk scores of the grids (or buildings) of an area. */
export function renderRisk(container, r, title = '风险评估') {
  const t = r.tiers || {};
  const unit = r.level === 'building' ? '楼栋' : '网格';
  const rows = [
    ['total', `评估${unit}`, r.total],
    ['large', '高风险', t.large],
    ['medium', '中风险', t.medium],
    ['small', '低风险', t.small],
  ];
  const top = (r.units || []).slice(0, 8).map((u) => [u.name || u.code, Number(u.score.toFixed(1))]);
  return block(container, 'risk', title, rows, [bars(`风险最高的${unit}（评分）`, top, '#c0392b')],
    r.window?.from ? `事件因子时段 ${r.window.from} 至 ${r.window.to}` : '');
}

const CLASS_NAMES = { hot99: '热点 99%', hot95: '热点 95%', hot90: '热点 90%', not_significant: '不显著', cold90: '冷点 90%', cold95: '冷点 95%', cold99: '冷点 99%' };

/**
 * Model 3: the Gi* cells whose centre lies in the area (`inside(lon, lat)`), by class,
 * and the strongest hot cells.
 */
export function renderHotspots(container, hs, inside, title = '热点分析') {
  const cells = (hs.cells || []).filter((c) => typeof c.lon === 'number' && inside(c.lon, c.lat));
  const byClass = {};
  for (const c of cells) byClass[c.class] = (byClass[c.class] || 0) + 1;
  const hot = cells.filter((c) => c.class?.startsWith('hot')).length;
  const cold = cells.filter((c) => c.class?.startsWith('cold')).length;
  const rows = [
    ['cells', '分析单元（六边形网格）', cells.length],
    ['hot', '热点网格', hot],
    ['cold', '冷点网格', cold],
    ['events', '网格内事件', cells.reduce((s, c) => s + (c.count || 0), 0)],
  ];
  const order = Object.keys(CLASS_NAMES).filter((k) => byClass[k]);
  return block(container, 'hotspots', title, rows, [
    bars('热点类别（单元数）', order.map((k) => [CLASS_NAMES[k], byClass[k]]), '#d7191c'),
  ], `六边形网格（${hs.resolution} 级），按周边事件聚集程度判定冷热点，已做多重检验校正`);
}

export { CLASS_NAMES, TIER_NAMES };
