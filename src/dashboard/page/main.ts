import { h, render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './app.ts';

render(h(App, null), document.getElementById('app')!);
