// Globals of the workstation's pages that the type check cannot see in the JavaScript itself.

interface Window {
  /** NiiVue's UMD bundle (static/vendor/niivue), loaded by spine.html before spine.js. */
  niivue: any;
  /** Test hooks of the spine view (the browser tests read them). */
  fracturelabViewer: any;
  /** Test hooks of the femur view (the browser tests read them). */
  fracturelabFemur: any;
}
