{
  "range": {
    "type": "Node",
    "name": "Range",
    "uniquename": "range",
    "pos": [
      0.0,
      0.0
    ],
    "path": [
      "numpy",
      "Range"
    ],
    "terminals": {
      "start": {
        "value": 0.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 0.0,
          "multiinput": false
        }
      },
      "stop": {
        "value": 6.28,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 10.0,
          "multiinput": false
        }
      },
      "step": {
        "value": 0.1,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 1.0,
          "multiinput": false
        }
      },
      "type": {
        "value": "float",
        "flipped": false,
        "opts": {
          "widget": "combobox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "float",
          "multiinput": false,
          "items": [
            "int",
            "int8",
            "int16",
            "int32",
            "int64",
            "float",
            "float16",
            "float32",
            "float64"
          ]
        }
      },
      "range": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'numpy.ndarray'>",
          "value": null,
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "trig": {
    "type": "Node",
    "name": "Trig",
    "uniquename": "trig",
    "pos": [
      260.0,
      80.0
    ],
    "path": [
      "numpy",
      "Trig"
    ],
    "terminals": {
      "input": {
        "value": 0.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "None",
          "value": 0.0,
          "multiinput": false
        }
      },
      "operation": {
        "value": "sin",
        "flipped": false,
        "opts": {
          "widget": "combobox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "sin",
          "multiinput": false,
          "items": [
            "sin",
            "sinh",
            "cos",
            "cosh",
            "tan",
            "tanh"
          ]
        }
      },
      "array": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'numpy.ndarray'>",
          "value": null,
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "plot": {
    "type": "Node",
    "name": "Plot",
    "uniquename": "plot",
    "pos": [
      520.0,
      0.0
    ],
    "path": [
      "matplotlib",
      "Plot"
    ],
    "terminals": {
      "x": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "None",
          "value": null,
          "multiinput": true
        }
      },
      "y": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "None",
          "value": null,
          "multiinput": true
        }
      },
      "title": {
        "value": "sin(x)",
        "flipped": false,
        "opts": {
          "widget": "lineedit",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": "",
          "multiinput": false
        }
      },
      "figure": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'str'>",
          "value": null,
          "multiinput": false
        }
      }
    },
    "tunnel": false,
    "forcerun": false,
    "hidden": false,
    "customState": null,
    "layer": 0
  },
  "connection": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection",
    "line": "cubic",
    "input": [
      "range",
      "range"
    ],
    "output": [
      "trig",
      "input"
    ],
    "controlpoints": []
  },
  "connection.0": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.0",
    "line": "cubic",
    "input": [
      "range",
      "range"
    ],
    "output": [
      "plot",
      "x"
    ],
    "controlpoints": []
  },
  "connection.1": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.1",
    "line": "cubic",
    "input": [
      "trig",
      "array"
    ],
    "output": [
      "plot",
      "y"
    ],
    "controlpoints": []
  }
}
