{
  "float": {
    "type": "Node",
    "name": "Float",
    "uniquename": "float",
    "pos": [
      0.0,
      0.0
    ],
    "path": [
      "types",
      "Float"
    ],
    "terminals": {
      "float": {
        "value": 5.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 0.0,
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
  "float.0": {
    "type": "Node",
    "name": "Float",
    "uniquename": "float.0",
    "pos": [
      0.0,
      120.0
    ],
    "path": [
      "types",
      "Float"
    ],
    "terminals": {
      "float": {
        "value": 5.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 0.0,
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
  "power": {
    "type": "Node",
    "name": "Power",
    "uniquename": "power",
    "pos": [
      220.0,
      60.0
    ],
    "path": [
      "math",
      "Power"
    ],
    "terminals": {
      "base": {
        "value": 1.0,
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
      "exponent": {
        "value": 1.0,
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
      "result": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
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
  "float.1": {
    "type": "Node",
    "name": "Float",
    "uniquename": "float.1",
    "pos": [
      220.0,
      220.0
    ],
    "path": [
      "types",
      "Float"
    ],
    "terminals": {
      "float": {
        "value": 87.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 0.0,
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
  "multiply": {
    "type": "Node",
    "name": "Multiply",
    "uniquename": "multiply",
    "pos": [
      440.0,
      120.0
    ],
    "path": [
      "math",
      "Multiply"
    ],
    "terminals": {
      "input": {
        "value": 1.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 1.0,
          "multiinput": true
        }
      },
      "result": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
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
  "root": {
    "type": "Node",
    "name": "Root",
    "uniquename": "root",
    "pos": [
      440.0,
      280.0
    ],
    "path": [
      "math",
      "Root"
    ],
    "terminals": {
      "radicand": {
        "value": 1.0,
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
      "degree": {
        "value": 5.0,
        "flipped": false,
        "opts": {
          "widget": "doublespinbox",
          "in": true,
          "out": false,
          "showlabel": true,
          "dtype": "<class 'float'>",
          "value": 2.0,
          "multiinput": false
        }
      },
      "result": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
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
  "subtract": {
    "type": "Node",
    "name": "Subtract: 271875 - 5 = 271870",
    "uniquename": "subtract",
    "pos": [
      660.0,
      180.0
    ],
    "path": [
      "math",
      "Subtract"
    ],
    "terminals": {
      "minuend": {
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
      "subtrahend": {
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
      "result": {
        "value": null,
        "flipped": false,
        "opts": {
          "widget": null,
          "in": false,
          "out": true,
          "showlabel": true,
          "dtype": "<class 'float'>",
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
      "float",
      "float"
    ],
    "output": [
      "power",
      "base"
    ],
    "controlpoints": []
  },
  "connection.0": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.0",
    "line": "cubic",
    "input": [
      "float.0",
      "float"
    ],
    "output": [
      "power",
      "exponent"
    ],
    "controlpoints": []
  },
  "connection.1": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.1",
    "line": "cubic",
    "input": [
      "power",
      "result"
    ],
    "output": [
      "multiply",
      "input"
    ],
    "controlpoints": []
  },
  "connection.2": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.2",
    "line": "cubic",
    "input": [
      "float.1",
      "float"
    ],
    "output": [
      "multiply",
      "input"
    ],
    "controlpoints": []
  },
  "connection.3": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.3",
    "line": "cubic",
    "input": [
      "power",
      "result"
    ],
    "output": [
      "root",
      "radicand"
    ],
    "controlpoints": []
  },
  "connection.4": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.4",
    "line": "cubic",
    "input": [
      "multiply",
      "result"
    ],
    "output": [
      "subtract",
      "minuend"
    ],
    "controlpoints": []
  },
  "connection.5": {
    "type": "Connection",
    "name": "connection",
    "uniquename": "connection.5",
    "line": "cubic",
    "input": [
      "root",
      "result"
    ],
    "output": [
      "subtract",
      "subtrahend"
    ],
    "controlpoints": []
  }
}
