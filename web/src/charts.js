// ECharts, tree-shaken to the chart types the views use, and a renderer that turns a
// model's JSON answer into charts without depending on its exact field names: every
// object of numbers becomes a bar chart, every list of {name/label/…, number} a bar
// chart, and the top-level numbers a key–value table.

import * as echarts from 'echarts/core';
import { BarChart, FunnelChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { esc } from './common.js';

echarts.use([BarChart, FunnelChart, LineChart, PieChart, GridComponent, LegendComponent, TitleComponent, TooltipComponent, CanvasRenderer]);

export { echarts };

const FIELD_LABELS = {
  residents: '实有人口', households: '户数', housing_units: '住房', enterprises: '企业', buildings: '楼栋',
  closure_rate: '办结率', mediation_rate: '调解成功率', overdue: '超期', events: '事件',
  age: '年龄结构', age_bands: '年龄结构', gender: '性别', household_size: '户规模', occupancy: '居住情况',
  vacancy_rate: '空置率', rental_rate: '出租率', median_handling_days: '办理时长中位数(天)',
  mean_handling_days: '平均办理时长(天)', yoy: '同比', year_on_year: '同比',
};
const fieldLabel = (key) => FIELD_LABELS[key] || key;

function numericObject(value) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const entries = Object.entries(value).filter(([, v]) => typeof v === 'number');
  return entries.length >= 2 && entries.length === Object.keys(value).length ? entries : null;
}

function labelledList(value) {
  if (!Array.isArray(value) || value.length < 2 || typeof value[0] !== 'object' || value[0] === null) return null;
  const sample = value[0];
  const nameKey = Object.keys(sample).find((k) => typeof sample[k] === 'string');
  const valueKey = Object.keys(sample).find((k) => typeof sample[k] === 'number');
  if (!nameKey || !valueKey) return null;
  return value.slice(0, 30).map((item) => [String(item[nameKey]), Number(item[valueKey]) || 0]);
}

/** Render a model answer into `container`; returns the chart instances (dispose them later). */
export function renderModel(container, title, answer, theme) {
  const charts = [];
  const block = document.createElement('div');
  block.className = 'model';
  block.innerHTML = `<h3>${esc(title)}</h3>`;
  container.append(block);
  const scalars = [];
  const series = [];
  const walk = (obj, prefix) => {
    for (const [key, value] of Object.entries(obj)) {
      const name = prefix ? `${prefix} · ${fieldLabel(key)}` : fieldLabel(key);
      if (typeof value === 'number') scalars.push([name, value, key]);
      else if (numericObject(value)) series.push([name, numericObject(value)]);
      else if (labelledList(value)) series.push([name, labelledList(value)]);
      else if (value && typeof value === 'object' && !Array.isArray(value) && !prefix) walk(value, name);
    }
  };
  walk(answer, '');
  if (scalars.length) {
    const table = document.createElement('table');
    table.className = 'kv';
    table.innerHTML = scalars
      .slice(0, 12)
      .map(([name, v, key]) => {
        const shown = /rate|ratio|share|yoy/.test(key) && Math.abs(v) <= 5 ? `${(v * 100).toFixed(1)}%` : Number.isInteger(v) ? v.toLocaleString('zh-CN') : v.toFixed(2);
        return `<tr><th>${esc(name)}</th><td>${esc(shown)}</td></tr>`;
      })
      .join('');
    block.append(table);
  }
  for (const [name, entries] of series.slice(0, 4)) {
    const div = document.createElement('div');
    div.className = 'chart';
    block.append(div);
    const chart = echarts.init(div, theme);
    chart.setOption({
      title: { text: name, textStyle: { fontSize: 13 } },
      tooltip: {},
      grid: { left: 48, right: 12, top: 32, bottom: 40 },
      xAxis: { type: 'category', data: entries.map(([k]) => k), axisLabel: { rotate: entries.length > 6 ? 40 : 0 } },
      yAxis: { type: 'value' },
      series: [{ type: 'bar', data: entries.map(([, v]) => v), itemStyle: { color: '#2e86ab' } }],
    });
    charts.push(chart);
  }
  if (!scalars.length && !series.length) block.insertAdjacentHTML('beforeend', '<p class="muted">无可显示的数据</p>');
  return charts;
}
