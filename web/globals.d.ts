// Type-checking only (web/tsconfig.json): the browser globals index.html loads with <script> tags — the STOMP
// client (/vendor/stompjs/) and, for the operations console, uPlot (/vendor/uplot/).
declare const StompJs: typeof import('@stomp/stompjs');
interface Window {
  uPlot: unknown;
}
